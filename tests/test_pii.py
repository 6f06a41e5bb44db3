"""Personal data at rest: a whole report on a sample whose customers table has real-looking
phones, e-mails and WeCom ids keeps them only in the channel lists that need them (mode 0600 in
an exports/ folder of mode 0700, listed in manifest.json as personal data)."""

from __future__ import annotations

import json
import re
import stat

from custops.run import runner
from export_shapes import FULL_CONTACT, file_text, sample_with_contacts


def test_full_contact_keys_are_only_in_the_channel_lists(tmp_path):
    sample_with_contacts(tmp_path / "data")
    out = tmp_path / "report"
    manifest = runner.run_report(str(tmp_path / "data"), str(out), lang="zh", log=lambda _: None)
    found = {path.relative_to(out).as_posix() for path in out.rglob("*")
             if path.is_file() and FULL_CONTACT.search(file_text(path))}
    assert "exports/contacts_sms.csv" in found
    assert all(re.fullmatch(r"exports/contacts_\w+\.csv", name) for name in found), found
    assert set(manifest["personal_data"]) >= found
    assert json.loads((out / "manifest.json").read_text("utf-8"))["personal_data"] == \
        manifest["personal_data"]
    assert stat.S_IMODE((out / "exports").stat().st_mode) == 0o700
    for name in manifest["personal_data"]:
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600, name
    # the pages and the workbook a manager opens show the masked form
    assert "139****" in (out / "exports" / "plan.xlsx").read_bytes().decode("latin-1") or \
        "139****" in file_text(out / "exports" / "plan.xlsx")
