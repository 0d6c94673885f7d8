package fakeapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/vmdispatch/vmdispatch/engine"
)

// Error is a refusal by the API, with the HTTP status the Arvados API
// server answers it with: 401 no token, 403 locked by a different token,
// 404 no such container, 422 a rule forbids the change.
type Error struct {
	Status  int
	Message string
}

// Error returns the message, as the server puts it in its "errors" list.
func (e *Error) Error() string { return e.Message }

// StatusOf returns the HTTP status that err stands for: 200 for nil, the
// Status of an *Error (also when wrapped), and 500 for any other error.
func StatusOf(err error) int {
	if err == nil {
		return http.StatusOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return http.StatusInternalServerError
}

func errNotFound(uuid string) *Error {
	return &Error{Status: http.StatusNotFound, Message: fmt.Sprintf("container %s not found", uuid)}
}

func errUnprocessable(format string, args ...any) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Message: fmt.Sprintf(format, args...)}
}

func errNotLocker() *Error {
	return &Error{Status: http.StatusForbidden, Message: "locked by a different token"}
}

func errNoToken() *Error {
	return &Error{Status: http.StatusUnauthorized, Message: "Not logged in"}
}

func errBadTransition(from, to engine.ContainerState) *Error {
	return errUnprocessable("State cannot change from %s to %s", from, to)
}
