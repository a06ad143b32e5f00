//go:build !linux

package ltpeer

import "os/exec"

// setProcAttr does nothing where there is no parent-death signal; Close and
// the test's cleanup still stop the driver.
func setProcAttr(cmd *exec.Cmd) {}
