package postgres

import (
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// defaultSSLMode is the sslmode of connection URLs when the admin URL names
// none: libpq's own default.
const defaultSSLMode = "prefer"

// sslMode returns the sslmode of a connection string in URL or keyword/value
// form, or "prefer" when it names none.
func sslMode(connString string) string {
	if strings.HasPrefix(connString, "postgres://") || strings.HasPrefix(connString, "postgresql://") {
		if u, err := url.Parse(connString); err == nil {
			if m := u.Query().Get("sslmode"); m != "" {
				return m
			}
		}
		return defaultSSLMode
	}
	if m := keywordValue(connString, "sslmode"); m != "" {
		return m
	}
	return defaultSSLMode
}

// keywordValue returns the last value of key in a libpq keyword/value
// connection string ("host=db port=5432 password='it”s'"), or "".
func keywordValue(s, key string) string {
	var found string
	for {
		s = strings.TrimLeft(s, " \t\n\r")
		if s == "" {
			return found
		}
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			return found
		}
		k := strings.TrimSpace(s[:eq])
		s = strings.TrimLeft(s[eq+1:], " \t\n\r")
		var v strings.Builder
		if strings.HasPrefix(s, "'") {
			s = s[1:]
			for s != "" && s[0] != '\'' {
				if s[0] == '\\' && len(s) > 1 {
					s = s[1:]
				}
				v.WriteByte(s[0])
				s = s[1:]
			}
			if s != "" {
				s = s[1:]
			}
		} else {
			for s != "" && !strings.ContainsRune(" \t\n\r", rune(s[0])) {
				if s[0] == '\\' && len(s) > 1 {
					s = s[1:]
				}
				v.WriteByte(s[0])
				s = s[1:]
			}
		}
		if k == key {
			found = v.String()
		}
	}
}

// endpoint returns the host and port clients use to reach the target:
// publicHost ("host" or "host:port") when set, else the admin connection's
// first host. A missing port is the admin connection's.
func endpoint(admin *pgx.ConnConfig, publicHost string) (host, port string) {
	port = strconv.Itoa(int(admin.Port))
	if publicHost == "" {
		return admin.Host, port
	}
	if h, p, err := net.SplitHostPort(publicHost); err == nil {
		return h, p
	}
	return strings.Trim(publicHost, "[]"), port
}

// connectionURL returns a postgres:// URL that psql and every libpq client
// accept, with user and password escaped. A host that is a directory is a
// Unix socket and goes in the query, as libpq expects.
func connectionURL(host, port, user, password, database, sslmode string) string {
	u := url.URL{
		Scheme: "postgres",
		User:   url.UserPassword(user, password),
		Host:   net.JoinHostPort(host, port),
		Path:   "/" + database,
		// A slash in the name must not read as a path separator.
		RawPath: "/" + url.PathEscape(database),
	}
	q := url.Values{}
	if strings.HasPrefix(host, "/") {
		u.Host = ""
		q.Set("host", host)
		q.Set("port", port)
	}
	q.Set("sslmode", sslmode)
	u.RawQuery = q.Encode()
	return u.String()
}
