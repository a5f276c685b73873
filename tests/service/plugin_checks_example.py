"""A stage's doctor module as the stages will write it (used by test_doctor): no service imports."""


def doctor_checks():
    return [
        ("wake word", lambda config: ("ok", f"fired on the test clip at {config.wakeword.threshold}", "")),
        ("devices", lambda config: ("warn", "no devices discovered", "check mqtt.discovery_prefix")),
        ("odd", lambda config: ("maybe", "", "")),
    ]
