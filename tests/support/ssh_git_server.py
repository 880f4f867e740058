"""The git server stand-in over SSH: a paramiko server on loopback that runs dulwich's
upload-pack / receive-pack handlers for `git-upload-pack '/fleet.git'` exec requests.

    with SshGitServer(git_server, tmp_path) as ssh:
        ssh.url                 # ssh://git@127.0.0.1:PORT/fleet.git
        ssh.client_key_file     # the key it accepts (OpenSSH PEM)
        ssh.known_hosts_file    # a known_hosts naming its host key
"""

from __future__ import annotations

import shlex
import socket
import threading
from pathlib import Path
from types import TracebackType
from typing import Any, cast

import paramiko
from dulwich.protocol import ReceivableProtocol
from dulwich.server import DictBackend, UploadPackHandler

from tests.support.git_server import GitServer


class _Auth(paramiko.ServerInterface):
    def __init__(self, accepted: paramiko.PKey) -> None:
        self.accepted = accepted
        self.command: bytes | None = None
        self.ready = threading.Event()

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        ok = username == "git" and key.get_base64() == self.accepted.get_base64()
        return int(paramiko.common.AUTH_SUCCESSFUL if ok else paramiko.common.AUTH_FAILED)

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_channel_request(self, kind: str, chanid: int) -> int:
        ok = kind == "session"
        return (
            paramiko.common.OPEN_SUCCEEDED if ok else paramiko.common.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED
        )

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        self.command = command
        self.ready.set()
        return True

    def check_channel_env_request(self, channel: paramiko.Channel, name: bytes, value: bytes) -> bool:
        return True


class SshGitServer:
    """See the module docstring."""

    def __init__(self, git: GitServer, root: Path) -> None:
        self.git = git
        self.host_key = paramiko.RSAKey.generate(2048)
        self.client_key = paramiko.RSAKey.generate(2048)
        self.client_key_file = str(root / "id_rsa")
        self.client_key.write_private_key_file(self.client_key_file)
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self.port = int(self._sock.getsockname()[1])
        self.known_hosts_file = str(root / "known_hosts")
        Path(self.known_hosts_file).write_text(
            f"[127.0.0.1]:{self.port} ssh-rsa {self.host_key.get_base64()}\n"
        )
        self.commands: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="ssh-git-server", daemon=True)

    @property
    def url(self) -> str:
        return f"ssh://git@127.0.0.1:{self.port}/{self.git.name}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn: socket.socket) -> None:
        transport = paramiko.Transport(conn)
        transport.add_server_key(self.host_key)
        auth = _Auth(self.client_key)
        try:
            transport.start_server(server=auth)
            channel = transport.accept(timeout=10)
            if channel is None or not auth.ready.wait(10) or auth.command is None:
                return
            command = auth.command.decode()
            self.commands.append(command)
            service, path = shlex.split(command)
            handler_class: Any = (
                UploadPackHandler if service == "git-upload-pack" else self.git._handler_class()
            )
            backend = DictBackend(cast(Any, {f"/{self.git.name}": self.git.repo}))
            proto = ReceivableProtocol(channel.recv, channel.sendall)
            with self.git.lock:
                handler_class(backend, [path], proto).handle()
            if service == "git-receive-pack":
                self.git._notify_if_moved()
            channel.send_exit_status(0)
            # Closing the transport at once could drop the end of what we sent (still in
            # paramiko's buffers): half-close and wait for the client to close its side.
            channel.shutdown_write()
            channel.settimeout(30)
            while channel.recv(65536):
                pass
            channel.close()
        except (paramiko.SSHException, EOFError, OSError):
            pass
        finally:
            transport.close()

    def __enter__(self) -> SshGitServer:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._sock.close()
        self._thread.join(timeout=5)
