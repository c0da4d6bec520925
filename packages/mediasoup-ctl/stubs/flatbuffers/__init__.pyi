# Type stubs for the parts of the flatbuffers runtime (25.x) this library uses; the package
# ships no types. Only for mypy (tool.mypy.mypy_path); not part of the wheel.
from . import number_types as number_types
from . import table as table
from .builder import Builder as Builder
