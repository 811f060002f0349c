"""Black-box grading of student IPC programs against a role contract."""
