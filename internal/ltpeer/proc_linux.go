package ltpeer

import (
	"os/exec"
	"syscall"
)

// setProcAttr makes the kernel kill the driver when the process that started
// it dies, so a crashed or killed test leaves no libtorrent behind.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
