from tfcanary.case import script_case

again = script_case("good-one", family="misc", doc="Same id as a_good.py.")


@again.broken
def _(tf, keras):
    pass
