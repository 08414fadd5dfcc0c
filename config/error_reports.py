"""Error reports never carry a plain PIN.

`sensitive_variables` hides named locals only in the decorated function's own frame, which a
generator (the CSV export) has left by the time its code runs. This filter also hides, in
every frame of a report, the local variables that hold plain PINs by the names the code
gives them.
"""

from django.views.debug import SafeExceptionReporterFilter

PIN_VARIABLES = frozenset(
    {"pin", "pins", "typed_pin", "redemption", "row", "rows", "line", "lines"}
)


class PinSafeExceptionReporterFilter(SafeExceptionReporterFilter):
    def get_traceback_frame_variables(self, request, tb_frame):
        return [
            (name, self.cleansed_substitute if name in PIN_VARIABLES else value)
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]
