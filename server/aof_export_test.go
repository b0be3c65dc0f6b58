package server

// SetAOFRewriteHold makes AOF rewrites call hold after their snapshot is taken and before
// they write anything (tests use it to act while one is under way).
func (s *Server) SetAOFRewriteHold(hold func()) {
	s.aofrw.mu.Lock()
	s.aofrw.testHold = hold
	s.aofrw.mu.Unlock()
}

// AOFRewriteFinished returns a channel closed when the rewrite running now ends (closed at
// once when none runs).
func (s *Server) AOFRewriteFinished() <-chan struct{} { return s.aofRewriteFinished() }
