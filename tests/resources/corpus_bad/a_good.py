from tfcanary.case import script_case

ok = script_case("good-one", family="misc", doc="Fine.")


@ok.broken
def _(tf, keras):
    pass
