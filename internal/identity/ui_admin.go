package identity

// registerAdmin adds the administrators' pages and API for users, tokens
// and facilities.
func (h *Handlers) registerAdmin() {
	h.registerUsersAdmin()
}
