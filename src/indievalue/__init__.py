"""indievalue: individualistic value reasoning on the World Values Survey, wave 7."""

from indievalue.errors import IndieValueError

__version__ = "0.1.0"

__all__ = ["IndieValueError", "__version__"]
