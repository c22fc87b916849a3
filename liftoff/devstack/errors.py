"""The one error type of the local stack: a message a user can act on, printed without a traceback."""


class LocalStackError(RuntimeError):
    """Something about the local machine or stack is wrong; the message says what to do."""
