"""placeholder"""
QA_TASKS = {"hotpotqa": None, "drop": None}
