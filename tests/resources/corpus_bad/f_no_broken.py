from tfcanary.case import script_case

only_fixed = script_case("only-fixed", family="misc")


@only_fixed.fixed
def _(tf, keras):
    pass
