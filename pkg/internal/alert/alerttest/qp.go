package alerttest

import (
	"bytes"
	"io"
	"mime/quotedprintable"
)

func decodeQP(b []byte) []byte {
	out, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(b)))
	if err != nil {
		return b
	}
	return out
}
