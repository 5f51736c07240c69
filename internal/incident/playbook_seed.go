package incident

// playbookTasks gives the tasks a new incident of a kind starts with: the
// facility's playbook (playbook.go). Tests may point it elsewhere.
var playbookTasks = PlaybookTasks
