package localstack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
)

// osUser is the user a server runs as when the caller is root. A nil
// *osUser means "the caller itself": no credential change, no chown.
type osUser struct {
	name     string
	uid, gid int
	groups   []int
}

// serverUser resolves the user a server runs as; nil when the caller is not
// root or the user is root. pkg names the Debian package that creates it.
func serverUser(name, pkg string) (*osUser, error) {
	if os.Geteuid() != 0 || name == "root" {
		return nil, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("%w: user %q not found (the Debian package %s creates it; or pass localstack.RunAs): %v",
			ErrNotInstalled, name, pkg, err)
	}
	ou := &osUser{name: name}
	if ou.uid, err = strconv.Atoi(u.Uid); err != nil {
		return nil, fmt.Errorf("user %s: uid %q: %w", name, u.Uid, err)
	}
	if ou.gid, err = strconv.Atoi(u.Gid); err != nil {
		return nil, fmt.Errorf("user %s: gid %q: %w", name, u.Gid, err)
	}
	ids, _ := u.GroupIds()
	for _, s := range ids {
		if g, err := strconv.Atoi(s); err == nil {
			ou.groups = append(ou.groups, g)
		}
	}
	if !slices.Contains(ou.groups, ou.gid) {
		ou.groups = append(ou.groups, ou.gid)
	}
	return ou, nil
}

func (u *osUser) credential() *syscall.Credential {
	if u == nil {
		return nil
	}
	groups := make([]uint32, len(u.groups))
	for i, g := range u.groups {
		groups[i] = uint32(g)
	}
	return &syscall.Credential{Uid: uint32(u.uid), Gid: uint32(u.gid), Groups: groups}
}

func (u *osUser) chown(path string) error {
	if u == nil {
		return nil
	}
	return os.Lchown(path, u.uid, u.gid)
}

// canTraverse applies the owner, group, other rule of search permission.
func (u *osUser) canTraverse(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return true
	}
	m := fi.Mode().Perm()
	switch {
	case int(st.Uid) == u.uid:
		return m&0o100 != 0
	case slices.Contains(u.groups, int(st.Gid)):
		return m&0o010 != 0
	default:
		return m&0o001 != 0
	}
}

// prepareDir makes dir (absolute) exist, owned by the server user with mode
// 0700 when there is one, and checks the user can reach it.
func prepareDir(dir string, u *osUser) (string, error) {
	if dir == "" {
		return "", errors.New("empty directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return "", err
	}
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return "", err
	}
	if u == nil {
		return abs, nil
	}
	if err := os.Chown(abs, u.uid, u.gid); err != nil {
		return "", err
	}
	if err := os.Chmod(abs, 0o700); err != nil {
		return "", err
	}
	for p := filepath.Dir(abs); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return "", err
		}
		if !u.canTraverse(fi) {
			return "", fmt.Errorf("%w: user %s cannot enter %s (mode %v) above %s; use a directory whose parents are traversable (e.g. made by os.MkdirAll, or localstacktest.TempDir in tests)",
				ErrDirNotAccessible, u.name, p, fi.Mode().Perm(), abs)
		}
		if p == "/" {
			return abs, nil
		}
	}
}

// writeFile writes data to path atomically and gives it to the server user.
func writeFile(path string, data []byte, mode os.FileMode, u *osUser) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	if err := u.chown(tmp); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// lockDir takes an exclusive lock on dir so that two starts in one directory
// do not race; the returned func releases it.
func lockDir(ctx context.Context, dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, ".localstack.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	err = poll(ctx, func() (bool, error) {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if errors.Is(err, syscall.EWOULDBLOCK) || errors.Is(err, syscall.EINTR) {
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return func() { f.Close() }, nil
}
