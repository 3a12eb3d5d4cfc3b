// Command crawlctl is the single binary of crawlctl: the web server, the
// executor daemon and the operator CLI. See `crawlctl --help`.
package main

import (
	"context"
	"os"
	_ "time/tzdata" // schedules' time zones work without the host's zoneinfo

	"github.com/crawlctl/crawlctl/pkg/cli"
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
