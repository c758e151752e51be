from tfcanary.case import script_case

bad = script_case("Bad Id", family="misc")
