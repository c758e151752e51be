"""Raises a BaseException of its own at import."""


class Stop(BaseException):
    pass


raise Stop("not an Exception")
