// Package motoserver starts moto_server, the protocol-level stand-in for
// Secrets Manager, EventBridge, SQS and more that the machine image ships,
// once per test binary: on a free loopback port, recorded by its pid and
// stopped by Stop (from TestMain). Tests decide themselves what its absence
// means (under CI it must be there).
package motoserver

import (
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// startTimeout is how long moto_server may take to answer: usually under a
// second, much longer on a loaded 2-core CI machine.
const startTimeout = 90 * time.Second

var (
	once sync.Once
	url  string
	cmd  *exec.Cmd
	err  error
)

// URL returns the base URL of the binary's moto_server, starting it on the
// first call, or why it could not be started.
func URL() (string, error) {
	once.Do(start)
	return url, err
}

func start() {
	bin, lerr := exec.LookPath("moto_server")
	if lerr != nil {
		err = lerr
		return
	}
	l, lerr := net.Listen("tcp", "127.0.0.1:0")
	if lerr != nil {
		err = lerr
		return
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd = exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	// If the test binary dies without Stop, moto goes with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if serr := cmd.Start(); serr != nil {
		err, cmd = serr, nil
		return
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	for deadline := time.Now().Add(startTimeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if resp, gerr := http.Get(base + "/moto-api/"); gerr == nil {
			resp.Body.Close()
			url = base
			return
		}
	}
	err = fmt.Errorf("moto_server did not answer on %s within %s", base, startTimeout)
}

// Stop ends the moto_server this binary started, if any.
func Stop() {
	if cmd != nil && cmd.Process != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
}
