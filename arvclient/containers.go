package arvclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/vmdispatch/vmdispatch/engine"
)

// record is a container as the API sends it. Its mounts are kept raw
// (the outer field hides engine.Container.Mounts from encoding/json):
// only the mounts fetch reads them, and a record whose mounts do not fit
// engine.Mount must still decode (Arvados issue 21314).
type record struct {
	engine.Container
	Mounts json.RawMessage `json:"mounts,omitempty"`
}

// Lock locks a Queued container for the dispatcher (POST
// arvados/v1/containers/{uuid}/lock) and returns the record after the
// call. The record's Mounts are not filled in.
func (c *Client) Lock(ctx context.Context, uuid string) (engine.Container, error) {
	return c.post(ctx, uuid, "lock")
}

// Unlock puts a container the dispatcher locked back in the queue (POST
// arvados/v1/containers/{uuid}/unlock); the server may cancel it instead
// when it has been locked too often (MaxDispatchAttempts). It returns the
// record after the call, without Mounts.
func (c *Client) Unlock(ctx context.Context, uuid string) (engine.Container, error) {
	return c.post(ctx, uuid, "unlock")
}

// Cancel cancels a container (PUT arvados/v1/containers/{uuid} with
// state Cancelled). If runtimeError is not empty it is first recorded as
// runtime_status.error, which the server allows only while the
// dispatcher holds the lock; if that fails the container is not
// cancelled. It returns the record after the call, without Mounts.
func (c *Client) Cancel(ctx context.Context, uuid, runtimeError string) (engine.Container, error) {
	if runtimeError != "" {
		status := map[string]any{"runtime_status": map[string]any{"error": runtimeError}}
		if _, err := c.update(ctx, uuid, status); err != nil {
			return engine.Container{}, err
		}
	}
	return c.update(ctx, uuid, map[string]any{"state": engine.Cancelled})
}

func (c *Client) post(ctx context.Context, uuid, verb string) (engine.Container, error) {
	if err := checkUUID(uuid); err != nil {
		return engine.Container{}, err
	}
	var rec record
	if err := c.do(ctx, http.MethodPost, containerPath(uuid)+"/"+verb, nil, nil, &rec); err != nil {
		return engine.Container{}, err
	}
	return c.checkRecord(http.MethodPost, containerPath(uuid)+"/"+verb, uuid, rec)
}

func (c *Client) update(ctx context.Context, uuid string, fields map[string]any) (engine.Container, error) {
	if err := checkUUID(uuid); err != nil {
		return engine.Container{}, err
	}
	var rec record
	body := map[string]any{"container": fields}
	if err := c.do(ctx, http.MethodPut, containerPath(uuid), nil, body, &rec); err != nil {
		return engine.Container{}, err
	}
	return c.checkRecord(http.MethodPut, containerPath(uuid), uuid, rec)
}

// checkRecord refuses an answer about another container than the one
// asked about: acting on it would corrupt the engine's view.
func (c *Client) checkRecord(method, path, uuid string, rec record) (engine.Container, error) {
	if rec.UUID != uuid {
		return engine.Container{}, c.badResponse(method, path, nil, http.StatusOK, fmt.Sprintf("server response is about container %q, not %q", rec.UUID, uuid))
	}
	return rec.Container, nil
}

func containerPath(uuid string) string {
	return "arvados/v1/containers/" + url.PathEscape(uuid)
}

func checkUUID(uuid string) error {
	if uuid == "" {
		return &engine.APIError{Message: "arvclient: empty container UUID"}
	}
	return nil
}
