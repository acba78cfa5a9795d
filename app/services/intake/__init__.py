"""Intake (首接负责制, SOP_RULES §5.5): service events recorded by form, REST or work-order import, FC-06
routing, the same matter joining its open case (AMB-34), repeats, masking of personal numbers."""
