import hashlib
from pathlib import Path

import pytest

from eodrec.data import DataMissingError, resolve_data_dir
from eodrec.data.files import ALL_FILES, DATASETS, RAW_SAMPLE, require_file, sha256_file


def test_resolve_data_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("EODREC_DATA", str(tmp_path / "env"))
    assert resolve_data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_data_dir() == tmp_path / "env"
    monkeypatch.delenv("EODREC_DATA")
    assert resolve_data_dir() == Path("data")
    monkeypatch.setenv("EODREC_DATA", "")
    assert resolve_data_dir() == Path("data")


def test_missing_data_dir_message_names_path_and_remedy(tmp_path):
    missing = tmp_path / "no_such_dir"
    with pytest.raises(DataMissingError) as info:
        require_file(missing, "Tmall/test.txt")
    message = str(info.value)
    assert str(missing) in message
    assert "eodrec data download --dest" in message
    assert "EODREC_DATA" in message and "--data-dir" in message


def test_missing_file_message_names_file(tmp_path):
    with pytest.raises(DataMissingError) as info:
        require_file(tmp_path, "Tmall/test.txt")
    assert str(tmp_path / "Tmall" / "test.txt") in str(info.value)
    assert "eodrec data download" in str(info.value)


def test_require_file_uses_env(monkeypatch, tmp_path):
    (tmp_path / "Tmall").mkdir()
    (tmp_path / "Tmall" / "test.txt").write_bytes(b"x")
    monkeypatch.setenv("EODREC_DATA", str(tmp_path))
    assert require_file(None, "Tmall/test.txt") == tmp_path / "Tmall" / "test.txt"


def test_manifest_matches_readme_provenance():
    assert set(DATASETS) == {"Tmall", "retailrocket"}
    tmall = DATASETS["Tmall"]
    assert tmall.train.relpath == "Tmall/all_train_seq.txt"
    assert tmall.test.url == (
        "https://raw.githubusercontent.com/CCIIPLab/GCE-GNN/"
        "212575302e42d64b8cf0b9ffe1b71b0db398d5be/datasets/Tmall/test.txt"
    )
    assert DATASETS["retailrocket"].train.url == (
        "https://raw.githubusercontent.com/MSJeinlong/CGENet/"
        "361cab1829696845656c0b3727a837ff7e1d6991/datasets/retailrocket/all_train_seq.txt"
    )
    assert RAW_SAMPLE.relpath == "raw/retailrocket_sample.tsv"
    assert RAW_SAMPLE.url == (
        "https://raw.githubusercontent.com/kangshitao/SR-GTM/"
        "264e1fa19d39ab883c7635b30a5fd3c848b3b5e5/datasets/sample_retailrocket.csv"
    )
    assert len(ALL_FILES) == 5
    assert len({f.sha256 for f in ALL_FILES}) == 5
    assert all(len(f.sha256) == 64 and int(f.sha256, 16) >= 0 for f in ALL_FILES)


def test_sha256_file_streams_large_files(tmp_path):
    data = bytes(range(256)) * 20_000  # > one read chunk
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()
