package asterisk

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// readEnvFile parses a KEY=VALUE file written by the script. Blank lines and
// comments are skipped; values are taken literally (the script never quotes).
func readEnvFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s missing (run configure)", ErrBadInstance, path)
		}
		return nil, err
	}
	defer f.Close()
	vals := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%w: %s:%d: not KEY=VALUE", ErrBadInstance, path, n)
		}
		vals[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return vals, nil
}

// AccountIDs returns the uid and gid of the asterisk user and group in the
// Asterisk root (DefaultRoot when root is empty). Instance directories are
// owned by them.
func AccountIDs(root string) (uid, gid int, err error) {
	if root == "" {
		root = DefaultRoot
	}
	uid, err = lookupID(filepath.Join(root, "etc", "passwd"), "asterisk")
	if err != nil {
		return 0, 0, err
	}
	gid, err = lookupID(filepath.Join(root, "etc", "group"), "asterisk")
	if err != nil {
		return 0, 0, err
	}
	return uid, gid, nil
}

// lookupID returns the third field (uid or gid) of name's line in a
// passwd or group file.
func lookupID(path, name string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 3 && f[0] == name {
			id, err := strconv.Atoi(f[2])
			if err != nil {
				return 0, fmt.Errorf("%s: %s has id %q", path, name, f[2])
			}
			return id, nil
		}
	}
	return 0, fmt.Errorf("%s: no entry %s", path, name)
}
