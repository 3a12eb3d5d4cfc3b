package flow

import "encoding/json"

// Decode reads the parsed flows stored with a project version: the JSON of
// the Project the upload parsed.
func Decode(stored string) (*Project, error) {
	var p Project
	if err := json.Unmarshal([]byte(stored), &p); err != nil {
		return nil, err
	}
	return &p, nil
}
