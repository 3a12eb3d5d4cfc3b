package bench

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// Machine describes where the figures were taken.
type Machine struct {
	Cores     int    `json:"cores"`
	CPU       string `json:"cpu,omitempty"`
	MemoryMiB int64  `json:"memory_mib,omitempty"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	Kernel    string `json:"kernel"`
	Arch      string `json:"arch"`
	Database  string `json:"database"`
	Date      string `json:"date"`
}

func machineInfo(ctx context.Context, st db) (Machine, error) {
	m := Machine{
		Cores:     runtime.NumCPU(),
		GoVersion: runtime.Version(),
		OS:        runtime.GOOS,
		Kernel:    runtime.GOOS,
		Arch:      runtime.GOARCH,
		Date:      time.Now().UTC().Format(time.RFC3339),
	}
	v, err := st.ServerVersion(ctx)
	if err != nil {
		return m, err
	}
	m.Database = v
	if pretty := keyValue("/etc/os-release", "PRETTY_NAME", "="); pretty != "" {
		m.OS = strings.Trim(pretty, `"`)
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = runtime.GOOS + " " + strings.TrimSpace(string(b))
	} else if out, err := exec.CommandContext(ctx, "uname", "-sr").Output(); err == nil {
		m.Kernel = strings.TrimSpace(string(out))
	}
	m.CPU = keyValue("/proc/cpuinfo", "model name", ":")
	if kb := keyValue("/proc/meminfo", "MemTotal", ":"); kb != "" {
		var n int64
		for _, c := range strings.TrimSuffix(kb, " kB") {
			if c < '0' || c > '9' {
				break
			}
			n = n*10 + int64(c-'0')
		}
		m.MemoryMiB = n / 1024
	}
	return m, nil
}

// keyValue returns the value of the first "key<sep>value" line of a file.
func keyValue(path, key, sep string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), sep)
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
