package ddblocal

import (
	"errors"
	"syscall"
)

// The fault tests stop, pause and resume the DynamoDB Local they started
// (never another process): these signal the recorded java process only.

// Kill ends the server at once with SIGKILL, as a crash would: no shutdown,
// nothing flushed. It waits until the process is gone. Start again with the
// same Options.Addr and Options.DataDir to restart on the same data.
func (s *Server) Kill() error {
	if err := s.signal(syscall.SIGKILL); err != nil {
		return err
	}
	<-s.done
	return nil
}

// Pause stops the server with SIGSTOP: it keeps its connections and
// answers nothing, as a hung server does, until Resume.
func (s *Server) Pause() error { return s.signal(syscall.SIGSTOP) }

// Resume continues a paused server with SIGCONT.
func (s *Server) Resume() error { return s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) error {
	if s.cmd == nil || s.cmd.Process == nil {
		return errors.New("ddblocal: server not started")
	}
	select {
	case <-s.done:
		return errors.New("ddblocal: server already exited")
	default:
	}
	return s.cmd.Process.Signal(sig)
}
