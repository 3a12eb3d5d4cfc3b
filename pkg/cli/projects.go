package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/crawlctl/crawlctl/pkg/internal/flow"
)

func newProjectCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "project",
		Short: "Upload and inspect projects (Azkaban Flow 2.0 or .job archives)",
	}
	var name string
	upload := &cobra.Command{
		Use:   "upload PATH",
		Short: "Upload a project directory or zip as the project's next version",
		Long: `Upload a project. PATH is a zip archive or a directory (zipped on the fly,
skipping .git). The server parses and validates every flow first and stores
nothing on error. The project name defaults to the directory or zip name.

  crawlctl project upload ./crawlers
  crawlctl project upload build/crawlers.zip --name crawlers`,
		Args: exactArgs(1, "PATH"),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			st, err := os.Stat(path)
			if err != nil {
				return usageErr("%v", err)
			}
			var data []byte
			if st.IsDir() {
				var buf bytes.Buffer
				if err := flow.ZipDir(path, &buf); err != nil {
					return usageErr("zip %s: %v", path, err)
				}
				data = buf.Bytes()
			} else if data, err = os.ReadFile(path); err != nil {
				return usageErr("%v", err)
			}
			if name == "" {
				abs, _ := filepath.Abs(path)
				name = strings.TrimSuffix(filepath.Base(abs), ".zip")
			}
			res, err := g.client().UploadProject(cmd.Context(), name, data)
			if err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(g.stdout, res)
			}
			if !g.quiet {
				fmt.Fprintf(g.stdout, "uploaded %s version %d (%s, %d bytes, sha256 %s)\nflows: %s\n", res.Project, res.Version, res.Format, res.Size, res.SHA256[:12], strings.Join(res.Flows, ", "))
			}
			return nil
		},
	}
	upload.Flags().StringVar(&name, "name", "", "project name (default: the directory or zip name)")
	cmd.AddCommand(upload, &cobra.Command{
		Use:   "list",
		Short: "List projects",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			list, err := g.client().Projects(cmd.Context())
			if err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(g.stdout, list)
			}
			rows := [][]string{}
			for _, p := range list {
				rows = append(rows, []string{p.Name, strconv.Itoa(p.LatestVersion), strings.Join(p.Flows, ","), timeString(&p.UpdatedAt)})
			}
			return printTable(g.stdout, []string{"name", "version", "flows", "updated"}, rows)
		},
	}, &cobra.Command{
		Use:   "show NAME",
		Short: "Show a project's flows and versions",
		Args:  exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.client().Project(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(g.stdout, p)
			}
			fmt.Fprintf(g.stdout, "project: %s\nversion: %d\nflows:   %s\n\n", p.Name, p.LatestVersion, strings.Join(p.Flows, ", "))
			rows := [][]string{}
			for _, v := range p.Versions {
				rows = append(rows, []string{strconv.Itoa(v.Version), v.Format, strconv.FormatInt(v.Size, 10), v.SHA256[:12], v.UploadedBy, timeString(&v.CreatedAt)})
			}
			return printTable(g.stdout, []string{"version", "format", "bytes", "sha256", "uploaded by", "uploaded"}, rows)
		},
	})
	return cmd
}
