package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// TokenFile is where `crawlctl login` (and `crawlctl solo`) keep API tokens,
// one per server URL: $XDG_CONFIG_HOME/crawlctl/tokens.json, else
// ~/.config/crawlctl/tokens.json. It is written with mode 600.
func TokenFile() (string, error) {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("find the token file: %w", err)
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "crawlctl", "tokens.json"), nil
}

func normalizeServer(server string) string {
	if !strings.Contains(server, "://") {
		server = "http://" + server
	}
	return strings.TrimRight(server, "/")
}

// SavedToken returns the token saved for server, or "".
func SavedToken(server string) string {
	path, err := TokenFile()
	if err != nil {
		return ""
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var m map[string]string
	if json.Unmarshal(b, &m) != nil {
		return ""
	}
	return m[normalizeServer(server)]
}

// SaveToken records token for server in the token file.
func SaveToken(server, token string) (string, error) {
	path, err := TokenFile()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("save token: %w", err)
	}
	m := map[string]string{}
	if b, err := os.ReadFile(path); err == nil {
		_ = json.Unmarshal(b, &m)
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("save token: %w", err)
	}
	m[normalizeServer(server)] = token
	b, _ := json.MarshalIndent(m, "", "  ")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return "", fmt.Errorf("save token: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("save token: %w", err)
	}
	return path, nil
}
