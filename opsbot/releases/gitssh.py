"""SSH transport for dulwich over paramiko: in-process, no `ssh` binary, no shell.

dulwich's default SSH vendor starts the local `ssh` program; opsbot never starts a
process, so this vendor opens the channel with paramiko. Host keys must be known
(`known_hosts_file`, else the system's): an unknown server is refused, never trusted
on first use.
"""

from __future__ import annotations

from typing import Any

import paramiko
from dulwich.client import SSHVendor

from opsbot.releases.errors import GitAuthError, GitUnavailableError


class _Channel:
    """The read/write/can_read/close surface dulwich's protocol uses."""

    def __init__(self, client: paramiko.SSHClient, channel: paramiko.Channel) -> None:
        self._client = client
        self._channel = channel
        self._stderr = channel.makefile_stderr("rb")

    def read(self, n: int | None = None) -> bytes:
        if n is None:
            chunks = []
            while data := self._channel.recv(65536):
                chunks.append(data)
            return b"".join(chunks)
        data = b""
        while len(data) < n:
            chunk = self._channel.recv(n - len(data))
            if not chunk:
                break
            data += chunk
        return data

    def write(self, data: bytes) -> int:
        self._channel.sendall(data)
        return len(data)

    def can_read(self) -> bool:
        return bool(self._channel.recv_ready())

    def close(self, timeout: int | None = None) -> None:
        # Half-close and wait for the server to finish (it closes when it has read everything):
        # closing the transport at once could drop the end of a pack still in paramiko's buffers,
        # and the server would see a truncated push.
        try:
            self._channel.shutdown_write()
            self._channel.settimeout(timeout or 30)
            while self._channel.recv(65536):
                pass
        except (OSError, EOFError, paramiko.SSHException):
            pass
        finally:
            self._channel.close()
            self._client.close()


class ParamikoSSHVendor(SSHVendor):
    """Connects with a key file and checks the host key against known_hosts."""

    def __init__(self, *, known_hosts_file: str | None, timeout: float) -> None:
        self._known_hosts = known_hosts_file
        self._timeout = timeout

    @staticmethod
    def _key(path: str) -> paramiko.PKey:
        try:
            return paramiko.PKey.from_path(path)
        except (OSError, paramiko.SSHException, ValueError) as exc:
            raise GitAuthError(
                f"the SSH key file `{path}` cannot be loaded ({type(exc).__name__})."
            ) from None

    def run_command(
        self,
        host: str,
        command: bytes,
        username: str | None = None,
        port: int | None = None,
        password: str | None = None,
        key_filename: str | None = None,
        ssh_command: str | None = None,
        protocol_version: int | None = None,
    ) -> Any:
        pkey = self._key(key_filename) if key_filename else None
        client = paramiko.SSHClient()
        if self._known_hosts:
            client.load_host_keys(self._known_hosts)
        else:
            client.load_system_host_keys()
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            client.connect(
                host,
                port=port or 22,
                username=username or "git",
                pkey=pkey,
                timeout=self._timeout,
                allow_agent=False,
                look_for_keys=False,
            )
        except paramiko.AuthenticationException:
            client.close()
            raise GitAuthError(f"the SSH server `{host}` refused the key.") from None
        except paramiko.SSHException as exc:
            client.close()
            if "known_hosts" in str(exc) or isinstance(exc, paramiko.BadHostKeyException):
                raise GitAuthError(
                    f"the host key of `{host}` is not in known_hosts (or has changed)."
                ) from None
            raise GitUnavailableError(f"SSH to `{host}` failed ({type(exc).__name__}).") from None
        except OSError as exc:
            client.close()
            raise GitUnavailableError(
                f"cannot reach `{host}` over SSH ({exc.strerror or type(exc).__name__})."
            ) from None
        transport = client.get_transport()
        assert transport is not None
        channel = transport.open_session()
        if protocol_version == 2:
            channel.set_environment_variable("GIT_PROTOCOL", "version=2")
        channel.exec_command(command.decode() if isinstance(command, bytes) else " ".join(command))
        return _Channel(client, channel)
