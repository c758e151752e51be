from tfcanary.case import script_case

def broken(:
    pass
