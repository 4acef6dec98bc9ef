"""``hub keys create|list|reveal|disable|enable|delete``: your API keys."""

from __future__ import annotations

import sys

import click
from rich.table import Table

from ..client.api import PlatformClient, connect
from ..errors import UsageError
from .common import json_option, make_output


@click.group(
    epilog="""\b
Examples:
  hub keys list
  hub keys create ci-pipeline
  export HUB_API_KEY=$(hub keys reveal default)
  hub keys disable ci-pipeline"""
)
def keys() -> None:
    """Manage the API keys that call your APIs (sent as the x-api-key header).

    KEY arguments take a key's id (key_...) or its name.
    """


@keys.command(epilog="Example:\n  hub keys create mobile-app")
@click.argument("name", default="key")
@json_option
def create(name: str, json_mode: bool) -> None:
    """Create a key called NAME and print it (you can reveal it again later)."""
    out = make_output(json_mode)
    with connect() as client:
        body = client.create_key(name)
    key = body["key"]
    out.result(
        f"Created key {key['id']} ({key['name']}):\n{body['secret']}",
        **key,
        secret=body["secret"],
    )


@keys.command(name="list", epilog="Example:\n  hub keys list --json")
@json_option
def list_(json_mode: bool) -> None:
    """List your keys, masked."""
    out = make_output(json_mode)
    with connect() as client:
        items = client.keys()
    if json_mode:
        out.result(None, keys=items)
        return
    table = Table(box=None, pad_edge=False)
    for col in ("id", "name", "key", "state", "created", "last used"):
        table.add_column(col)
    for k in items:
        table.add_row(
            k["id"],
            k["name"],
            k["masked"],
            "enabled" if k["enabled"] else "disabled",
            k["created_at"],
            k["last_used_at"] or "never",
        )
    out.console.print(table)


@keys.command(epilog="Example:\n  export HUB_API_KEY=$(hub keys reveal default)")
@click.argument("key")
@json_option
def reveal(key: str, json_mode: bool) -> None:
    """Print KEY in full (only to you, its owner)."""
    out = make_output(json_mode)
    with connect() as client:
        key_id = _resolve(client, key)["id"]
        secret = client.reveal_key(key_id)
    out.result(secret, id=key_id, secret=secret)


@keys.command(epilog="Example:\n  hub keys disable ci-pipeline")
@click.argument("key")
@json_option
def disable(key: str, json_mode: bool) -> None:
    """Disable KEY: calls with it get 403 until it is enabled again."""
    _set_enabled(key, False, json_mode)


@keys.command(epilog="Example:\n  hub keys enable ci-pipeline")
@click.argument("key")
@json_option
def enable(key: str, json_mode: bool) -> None:
    """Enable KEY again."""
    _set_enabled(key, True, json_mode)


@keys.command(epilog="Example:\n  hub keys delete key_3f2a9c1b0d4e --yes")
@click.argument("key")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@json_option
def delete(key: str, yes: bool, json_mode: bool) -> None:
    """Delete KEY for good."""
    out = make_output(json_mode)
    with connect() as client:
        entry = _resolve(client, key)
        if not yes:
            if json_mode or not sys.stdin.isatty():
                raise UsageError(
                    f"Deleting key {entry['id']} needs confirmation.",
                    type="needs_confirmation",
                    hint="Add --yes.",
                )
            click.confirm(f"Delete key {entry['id']} ({entry['name']})?", abort=True)
        result = client.delete_key(entry["id"])
    out.result(f"Deleted key {entry['id']} ({entry['name']}).", **result)


def _set_enabled(key: str, enabled: bool, json_mode: bool) -> None:
    out = make_output(json_mode)
    with connect() as client:
        entry = client.set_key_enabled(_resolve(client, key)["id"], enabled)
    out.result(
        f"Key {entry['id']} ({entry['name']}) is {'enabled' if enabled else 'disabled'}.", **entry
    )


def _resolve(client: PlatformClient, ref: str) -> dict:
    items = client.keys()
    for k in items:
        if k["id"] == ref:
            return k
    named = [k for k in items if k["name"] == ref]
    if len(named) == 1:
        return named[0]
    if len(named) > 1:
        raise UsageError(
            f"Several keys are called {ref!r}.",
            type="ambiguous_key",
            hint="Use its id from `hub keys list`.",
        )
    raise UsageError(f"You have no key {ref!r}.", type="not_found", hint="See `hub keys list`.")
