"""The clinic's task list (the Tasks page) and what a task's window and the record's Tasks
tab share: its dialogs (new task, due date, cancel) and its actions (done, assign, priority …)."""
