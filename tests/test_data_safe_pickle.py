import os
import pickle

import pytest

from eodrec.data import (
    DataError,
    DataFormatError,
    DataMissingError,
    UnsafePickleError,
    load_pickle,
)


class _Reduce:
    """Pickles as ``func(*args)``: how a hostile file makes the unpickler call anything."""

    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _write(path, obj, protocol=pickle.HIGHEST_PROTOCOL):
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    return path


@pytest.mark.parametrize("protocol", [0, 2, 3, 4, 5])
def test_plain_containers_round_trip(tmp_path, protocol):
    data = ([[1, 2, 3], [40727]], [5, 6], ("a", 1.5, (7,)))
    assert load_pickle(_write(tmp_path / "ok.pkl", data, protocol)) == data


def test_allowed_builtin_constructor_is_resolved(tmp_path):
    path = _write(tmp_path / "int.pkl", [_Reduce(int, ("42",)), _Reduce(tuple, ([1, 2],))])
    assert load_pickle(path) == [42, (1, 2)]


def test_os_system_payload_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    payload = _Reduce(os.system, (f"touch {marker}",))
    path = _write(tmp_path / "evil.pkl", [[1, 2], payload])
    # Control: the payload is live; plain pickle would run it.
    live = tmp_path / "live"
    pickle.loads(pickle.dumps(_Reduce(os.system, (f"touch {live}",))))
    assert live.exists()

    with pytest.raises(UnsafePickleError) as info:
        load_pickle(path)
    assert not marker.exists()
    message = str(info.value)
    assert str(path) in message
    assert f"{os.system.__module__}.system" in message  # posix.system on Linux


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("os", "system"),
        ("posix", "system"),
        ("builtins", "eval"),
        ("builtins", "getattr"),
        ("builtins", "__import__"),
        ("subprocess", "Popen"),
        ("__builtin__", "eval"),
    ],
)
def test_disallowed_globals_are_refused_by_name(tmp_path, module, name):
    marker = tmp_path / "ran"
    # Protocol-0 GLOBAL opcode followed by a call, written by hand so no import happens here.
    raw = f"c{module}\n{name}\n(Vtouch {marker}\ntR.".encode()
    path = tmp_path / f"{module}_{name}.pkl"
    path.write_bytes(raw)
    with pytest.raises(UnsafePickleError) as info:
        load_pickle(path)
    assert f"{module}.{name}" in str(info.value)
    assert str(path) in str(info.value)
    assert not marker.exists()


def test_eval_payload_via_reduce_is_refused(tmp_path):
    marker = tmp_path / "eval_ran"
    code = f"open({str(marker)!r}, 'w').close()"
    path = _write(tmp_path / "eval.pkl", _Reduce(eval, (code,)))
    with pytest.raises(UnsafePickleError, match="builtins.eval"):
        load_pickle(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    "content",
    [b"", b"this is not a pickle", pickle.dumps([[1, 2, 3]] * 100)[:50], b"\x80\x04\x95"],
    ids=["empty", "garbage", "truncated", "header-only"],
)
def test_unreadable_bytes_are_format_errors_naming_the_file(tmp_path, content):
    path = tmp_path / "broken.txt"
    path.write_bytes(content)
    with pytest.raises(DataFormatError) as info:
        load_pickle(path)
    assert str(path) in str(info.value)
    assert "pickle" in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(DataMissingError, match="nope.txt"):
        load_pickle(tmp_path / "nope.txt")


def test_errors_share_a_base_and_survive_pickling():
    for cls in (DataMissingError, DataFormatError, UnsafePickleError):
        assert issubclass(cls, DataError)
    err = UnsafePickleError("/x/y.txt", "refused global os.system")
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is UnsafePickleError
    assert str(copy) == str(err) == "/x/y.txt: refused global os.system"
    assert copy.where == "/x/y.txt"
