package identity

func (h *Handlers) registerUsersAdmin() {}
