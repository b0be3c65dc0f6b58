package server

// SetPersistHold makes background saves and the drop-in load call hold before they write or
// read anything (tests use it to act while one is under way). Set it before Start.
func (s *Server) SetPersistHold(hold func()) {
	s.persist.mu.Lock()
	s.persist.testHold = hold
	s.persist.mu.Unlock()
}

// SaveFinished returns a channel closed when the save running now ends (closed at once when
// none runs).
func (s *Server) SaveFinished() <-chan struct{} {
	s.persist.mu.Lock()
	defer s.persist.mu.Unlock()
	if !s.persist.saving {
		c := make(chan struct{})
		close(c)
		return c
	}
	return s.persist.finished
}
