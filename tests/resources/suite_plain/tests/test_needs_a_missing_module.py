import tfcanary_suite_plain_missing_dependency  # noqa: F401


def test_never_collected():
    pass
