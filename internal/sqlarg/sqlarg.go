// Package sqlarg binds Go values to the parameters of SQLite statements, for
// SQL text of several statements that share one argument list: each
// statement takes the next arguments in turn (the way the CLI's and the
// API's `exec DB SQL ARG...` are given). Both the local database (db) and
// the write journal (journal) prepare user SQL this way.
package sqlarg

import (
	"fmt"

	"zombiezen.com/go/sqlite"
)

// Bind binds the first arguments of *args to stmt's parameters, in order,
// and removes them from *args. It fails when fewer arguments are left than
// the statement takes, or for a value of a type SQLite cannot store (nil,
// int, int64, float64, bool, string and []byte are accepted).
func Bind(stmt *sqlite.Stmt, args *[]any) error {
	n := stmt.BindParamCount()
	if n > len(*args) {
		return fmt.Errorf("statement takes %d arguments, %d left", n, len(*args))
	}
	for i := 1; i <= n; i++ {
		switch v := (*args)[i-1].(type) {
		case nil:
			stmt.BindNull(i)
		case int:
			stmt.BindInt64(i, int64(v))
		case int64:
			stmt.BindInt64(i, v)
		case float64:
			stmt.BindFloat(i, v)
		case bool:
			stmt.BindBool(i, v)
		case string:
			stmt.BindText(i, v)
		case []byte:
			stmt.BindBytes(i, v)
		default:
			return fmt.Errorf("argument %d: unsupported type %T", i, v)
		}
	}
	*args = (*args)[n:]
	return nil
}
