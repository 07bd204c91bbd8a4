"""The console socket: a pty master travels over a unix socket (SCM_RIGHTS) as runc sends it,
and the receiver gets a working terminal. No root needed: a pty and a socket of our own."""

from __future__ import annotations

import os
import socket
import threading

import pytest

from gophernetes.linux.console_socket import MASTER_NAME, open_pty, receive_master, send_master, set_size


@pytest.fixture
def listener(tmp_path):
    path = str(tmp_path / "console.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(path)
        server.listen(1)
        yield path, server


def test_the_master_arrives_and_speaks_to_the_slave(listener):
    path, server = listener
    master, slave = open_pty()
    received: dict = {}

    def engine_side() -> None:
        received["name"], received["fd"] = receive_master(server, 5)

    engine = threading.Thread(target=engine_side)
    engine.start()
    send_master(path, master)
    engine.join(5)
    os.close(master)  # ours is closed: the engine's copy keeps the terminal open
    try:
        assert received["name"] == MASTER_NAME
        os.write(slave, b"hello from the container\n")
        assert b"hello from the container" in os.read(received["fd"], 100)
        os.write(received["fd"], b"typed\n")
        assert os.read(slave, 100) == b"typed\n"
    finally:
        os.close(slave)
        os.close(received["fd"])


def test_the_window_size_is_what_the_config_asked():
    import fcntl
    import struct
    import termios

    master, slave = open_pty()
    try:
        set_size(master, 24, 132)
        rows, columns, _, _ = struct.unpack("HHHH", fcntl.ioctl(slave, termios.TIOCGWINSZ, b"\0" * 8))
        assert (rows, columns) == (24, 132)
    finally:
        os.close(master)
        os.close(slave)


def test_no_listener_is_an_error_naming_the_socket(tmp_path):
    master, slave = open_pty()
    try:
        with pytest.raises(OSError, match="console socket .*nowhere.sock"):
            send_master(str(tmp_path / "nowhere.sock"), master)
    finally:
        os.close(master)
        os.close(slave)


def test_a_connection_without_a_descriptor_is_refused(listener):
    path, server = listener
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.connect(path)
        client.sendall(b"/dev/ptmx")
        client.close()
        with pytest.raises(OSError, match="without sending a terminal"):
            receive_master(server, 5)
