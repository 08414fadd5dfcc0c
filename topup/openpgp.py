"""OpenPGP for the print shop: check a shop's public key, encrypt a stream to it.

A thin layer over Debian's `gpg` through python-gnupg. Every operation gets its own throw-away
GnuPG home holding nothing but the one public key it needs, and removes it afterwards: no
keyring is kept on the server and no secret key is ever involved. Plaintext goes into gpg's
standard input and ciphertext comes out of its standard output; neither is written to a file.
"""

import queue
import tempfile
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import gnupg
from django.utils.translation import gettext


class OpenPGPError(ValueError):
    """The key (or the encryption) was refused; the message says why, for the user."""


@dataclass(frozen=True)
class KeyInfo:
    fingerprint: str
    uid: str
    expires_at: datetime | None
    armored: str  # the key as gpg exports it: the public key alone, nothing else


class OpenPGP:
    gpg_binary = "gpg"
    # Chunks handed to gpg and taken from it; the queue between them is bounded so a slow
    # download holds back the CSV rows rather than piling ciphertext up in memory.
    chunk_size = 64 * 1024
    max_queued_chunks = 16
    max_key_size = 64 * 1024

    @contextmanager
    def _home(self):
        with tempfile.TemporaryDirectory(prefix="topup-gpg-") as home:
            # --no-autostart: public-key operations need no agent, so none is left running.
            yield gnupg.GPG(gpgbinary=self.gpg_binary, gnupghome=home, options=["--no-autostart"])

    def inspect(self, key_data: str | bytes) -> KeyInfo:
        """Check an uploaded public key (armored or binary): exactly one key, public only,
        able to encrypt now. Returns it as gpg exports it, armored."""
        if len(key_data) > self.max_key_size:
            raise OpenPGPError(gettext("This key is too large for one OpenPGP public key."))
        text = key_data if isinstance(key_data, str) else key_data.decode("latin-1")
        if "PRIVATE KEY BLOCK" in text:
            raise OpenPGPError(
                gettext("This is a private key. Ask the print shop for its public key only.")
            )
        with self._home() as gpg:
            imported = gpg.import_keys(key_data)
            if imported.sec_read or imported.sec_imported:
                raise OpenPGPError(
                    gettext("This is a private key. Ask the print shop for its public key only.")
                )
            keys = gpg.list_keys()
            if len(keys) != 1:
                raise OpenPGPError(
                    gettext(
                        "Paste exactly one ASCII-armored OpenPGP public key"
                        " (-----BEGIN PGP PUBLIC KEY BLOCK-----)."
                    )
                )
            key = keys[0]
            # The key's combined capabilities: a capital E means some valid subkey encrypts.
            if key.get("trust") in ("r", "e") or "E" not in key.get("cap", ""):
                raise OpenPGPError(
                    gettext("This key cannot encrypt (it is expired, revoked or for signing only).")
                )
            expires = key.get("expires")
            exported = gpg.export_keys(key["fingerprint"], minimal=True)
        return KeyInfo(
            fingerprint=key["fingerprint"].upper(),
            uid=(key.get("uids") or [""])[0],
            expires_at=datetime.fromtimestamp(int(expires), tz=UTC) if expires else None,
            armored=exported,
        )

    def encrypt(self, chunks: Iterable[bytes], *, public_key: str, fingerprint: str):
        """Encrypt `chunks` to the key, yielding binary OpenPGP data as gpg produces it.

        The caller's thread produces the plaintext (it may read the database) and yields the
        ciphertext; two python-gnupg threads feed gpg and collect its output. Raises OpenPGPError
        if the stored key no longer matches its fingerprint or gpg refuses to encrypt.
        """
        with self._home() as gpg:
            imported = gpg.import_keys(public_key)
            if [fpr.upper() for fpr in imported.fingerprints] != [fingerprint.upper()]:
                raise OpenPGPError(
                    gettext("The print shop's stored key does not match its fingerprint.")
                )
            ciphertext: queue.Queue = queue.Queue()

            def collect(data: bytes) -> bool:
                ciphertext.put(data)
                return False  # python-gnupg keeps nothing in memory itself

            gpg.on_data = collect
            outcome = {}

            def run():
                outcome["result"] = gpg.encrypt_file(
                    plaintext,
                    recipients=[fingerprint],
                    armor=False,
                    always_trust=True,  # the fingerprint was checked above and at upload
                )

            worker = threading.Thread(target=run, name="gpg-encrypt", daemon=True)
            plaintext = _QueueReader(self.max_queued_chunks, alive=worker.is_alive)
            worker.start()
            finished = False
            try:
                for chunk in _rechunk(chunks, self.chunk_size):
                    if not plaintext.put(chunk):
                        break  # gpg stopped reading: its result says why
                    yield from _drain(ciphertext)
                finished = True
            finally:
                plaintext.close(discard=not finished)
                worker.join()
            yield from _drain(ciphertext)
            result = outcome.get("result")
            if result is None or not result.ok:
                status = getattr(result, "status", "") or "no result"
                raise OpenPGPError(
                    gettext("gpg could not encrypt to this key (%(status)s).") % {"status": status}
                )


class _QueueReader:
    """A file-like object whose read() hands over the chunks put into it, then EOF.

    `alive()` tells whether gpg's side still runs, so that a producer never waits forever on
    a reader that has stopped.
    """

    def __init__(self, maxsize: int, alive):
        self._queue: queue.Queue = queue.Queue(maxsize)
        self._alive = alive

    def put(self, chunk: bytes) -> bool:
        """Queue a chunk (b"" is EOF); False if gpg's side ended before taking it."""
        while self._alive():
            try:
                self._queue.put(chunk, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def close(self, *, discard: bool = False) -> None:
        """End of input. `discard`: drop what gpg has not read yet (the download was cut)."""
        if discard:
            while not self._queue.empty():
                self._queue.get_nowait()
        self.put(b"")

    def read(self, size: int = -1) -> bytes:
        return self._queue.get()


def _rechunk(chunks: Iterable[bytes], size: int) -> Iterator[bytes]:
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        if len(buffer) >= size:
            yield bytes(buffer)
            buffer.clear()
    if buffer:
        yield bytes(buffer)


def _drain(chunks: queue.Queue) -> Iterator[bytes]:
    while True:
        try:
            data = chunks.get_nowait()
        except queue.Empty:
            return
        if data:
            yield data


openpgp = OpenPGP()
