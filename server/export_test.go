package server

// WatchedKeys is the number of (client, key) pairs the WATCH registry holds (tests).
func (s *Server) WatchedKeys() int64 { return s.watch.entries.Load() }
