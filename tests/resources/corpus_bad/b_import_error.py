from tfcanary.case import script_case

import module_that_does_not_exist  # line 3
