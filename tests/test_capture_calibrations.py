"""Calibration formats that real rigs write: Qualisys QTM ``.qca.txt`` (XML) and Pose2Sim/Anipose TOML, read
against the real file Pose2Sim's demo ships (its four cameras must see the performer), and the errors
malformed files get."""
from __future__ import annotations

import numpy as np
import pytest

from footage_fixtures import demo_footage, pose2sim_wheel  # noqa: F401  (fixtures)
from lmm_core.capture.calibration import guess_up, read_calibration, write_calibration
from lmm_core.capture.cameras import Camera, rotation_vector
from lmm_core.errors import LMMError, MotionFileError

# One camera as QTM writes it (Pose2Sim's demo's cam01, shortened): millimetres, 1/64 pixel intrinsics.
QCA = """<?xml version='1.0' encoding='ASCII'?>
<calibration created="sometimes ago" type="regular">
  <cameras>
    <camera active="1" serial="{name}" viewrotation="0">
      <fov_video bottom="1919" left="0" right="1087" top="0"/>
      <transform r11="0.5536380477336265" r12="0.8046719867383512" r13="0.2144479094331626" r21="-0.4345300743838753" r22="0.05946489349975602" r23="0.8986921279821063" r31="0.7104002579937896" r32="-0.5907342212870501" r33="0.3825762057979294" x="1460.2323709212087" y="-1909.1590482454608" z="1896.5058524092062"/>
      <intrinsic centerPointU="34110.316406" centerPointV="60680.792969" focalLengthU="107599.671875" focalLengthV="107588.828125" radialDistortion1="-0.046183" radialDistortion2="0.139983" radialDistortion3="0.000000" sensorMaxU="69568" sensorMaxV="122816" sensorMinU="0.000000" sensorMinV="0.000000" skew="0.000000" tangentalDistortion1="0.000608" tangentalDistortion2="0.00069"/>
    </camera>
    {more}
  </cameras>
</calibration>
"""


def qca(name="cam01", more=""):
    return QCA.replace("{name}", name).replace("{more}", more)


def test_qualisys_calibration_in_pixels_metres_and_z_up(tmp_path):
    path = tmp_path / "Calib.qca.txt"
    path.write_text(qca())
    calib = read_calibration(path)
    cam = calib.cameras[0]
    assert calib.up == "z" and cam.name == "cam01" and cam.size == (1088, 1920)
    # 1/64 pixel: f = 107599.67 / 64, principal point near the middle of the 1088 x 1920 portrait frame.
    np.testing.assert_allclose(cam.K[0], [1681.245, 0.0, 532.974], atol=1e-3)
    np.testing.assert_allclose(cam.dist, [-0.046183, 0.139983, 0.000608, 0.00069, 0.0])
    # The camera stands where QTM says (millimetres -> metres), 1.9 m above the floor, and looks at the
    # middle of the room: the origin is in front of it and projects inside the image.
    np.testing.assert_allclose(cam.centre, [1.4602, -1.9092, 1.8965], atol=1e-4)
    px, depth = cam.project(np.array([[0.0, 0.0, 1.0]]))
    assert depth[0] > 2.0 and 0 < px[0, 0] < 1088 and 0 < px[0, 1] < 1920
    # Up is Z and the cameras agree: their images' up points up the world.
    assert guess_up(calib.cameras) == "z"
    assert read_calibration(path, up="y").up == "y"
    assert read_calibration(path, units="cm").cameras[0].centre[2] == pytest.approx(18.965, abs=1e-3)


def test_the_demo_calibration_puts_four_cameras_around_the_performer(demo_footage):
    calib = read_calibration(demo_footage / "calibration" / "Calib.qca.txt")
    assert calib.names == ("cam01", "cam02", "cam03", "cam04") and calib.up == "z"
    for cam in calib.cameras:
        _, depth = cam.project(np.array([[0.0, 0.0, 1.0]]))
        assert 2.0 < depth[0] < 6.0, cam.name
        assert 1.5 < cam.centre[2] < 2.5, cam.name  # all on tripods about 2 m high
    # Around the room: the directions from the middle to the cameras span more than half a turn.
    angles = sorted(np.degrees(np.arctan2(c.centre[1], c.centre[0])) for c in calib.cameras)
    assert max(np.diff(angles + [angles[0] + 360])) < 180


@pytest.mark.parametrize("text, words", [
    ("not xml at all", "not valid XML"),
    ("<calibration><cameras>", "not valid XML"),
    ("<cameras/>", "not a Qualisys calibration"),
    ("<calibration><cameras/></calibration>", "no active <camera>"),
    (qca().replace('<transform', '<transformation'), "has no <transform>"),
    (qca().replace('x="1460.2323709212087"', 'x="far"'), "x='far' is not a number"),
    (qca().replace(' focalLengthU="107599.671875"', ''), "no 'focalLengthU'"),
    (qca().replace('r11="0.5536380477336265"', 'r11="2.0"'), "not a rotation"),
    (qca().replace('right="1087"', 'right="0"'), "fov_video"),
    (qca().replace('sensorMinU="0.000000"', 'sensorMinU="x"'), "sensorMinU='x' is not a number"),
    (qca().replace('skew="0.000000"', 'skew="nan"'), "skew must be a finite number"),
    ('<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY a "aaaa">]><calibration/>', "DTD or entities"),
])
def test_bad_qualisys_files_name_the_problem(tmp_path, text, words):
    path = tmp_path / "bad.qca.txt"
    path.write_text(text)
    with pytest.raises(MotionFileError) as e:
        read_calibration(path)
    assert words in str(e.value) and str(path) in str(e.value)


def test_inactive_cameras_are_left_out(tmp_path):
    path = tmp_path / "c.qca.txt"
    path.write_text(qca(more=qca("cam02").split("<cameras>")[1].split("</cameras>")[0].replace('active="1"', 'active="0"')))
    assert read_calibration(path).names == ("cam01",)


def pose2sim_toml(calib, fisheye=False) -> str:
    """A calibration as Pose2Sim writes it (Anipose's layout: [cam_01] tables, metres, no units or up)."""
    out = []
    for i, c in enumerate(calib.cameras, start=1):
        out += [f"[cam_{i:02d}]", f'name = "{c.name}"', f"size = [ {float(c.size[0])}, {float(c.size[1])},]",
                f"matrix = {[list(map(float, r)) for r in c.K]}", f"distortions = {list(map(float, c.dist[:4]))}",
                f"rotation = {list(map(float, rotation_vector(c.R)))}", f"translation = {list(map(float, c.t))}",
                f"fisheye = {'true' if fisheye else 'false'}", ""]
    out += ["[metadata]", "adjusted = false", "error = 0.0", ""]
    return "\n".join(out)


def test_pose2sim_toml_reads_as_the_qualisys_file_it_came_from(tmp_path):
    qca_path = tmp_path / "Calib.qca.txt"
    qca_path.write_text(qca(more=qca("cam02").split("<cameras>")[1].split("</cameras>")[0]))
    calib = read_calibration(qca_path)
    toml = tmp_path / "Calib_qualisys.toml"
    toml.write_text(pose2sim_toml(calib))
    back = read_calibration(toml)
    # No `up` in the file: the cameras' images say Z is up, as the Qualisys world it was made from.
    assert back.up == "z" and back.names == calib.names and back.cameras[0].size == (1088, 1920)
    for a, b in zip(back.cameras, calib.cameras):
        np.testing.assert_allclose(a.R, b.R, atol=1e-9)
        np.testing.assert_allclose(a.t, b.t, atol=1e-9)
        np.testing.assert_allclose(a.K, b.K)
    # A file that says which way is up is taken at its word; --up wins over both.
    toml.write_text('up = "y"\n' + pose2sim_toml(calib))
    assert read_calibration(toml).up == "y"
    assert read_calibration(toml, up="-y").up == "-y"
    toml.write_text(pose2sim_toml(calib, fisheye=True))
    with pytest.raises(MotionFileError, match="fisheye"):
        read_calibration(toml)


def test_up_guessed_from_upright_cameras_or_left_alone():
    # A camera looking along +X of a Z-up world, upright: its image's up is +Z.
    look_x = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])
    cams = [Camera(f"c{i}", np.diag([1000.0, 1000.0, 1.0]), R=look_x @ _turn_z(a)) for i, a in enumerate((0, 90, 200))]
    assert guess_up(cams) == "z"
    # The world is the first camera's frame (Anipose): -Y is up.
    assert guess_up([Camera("a", np.eye(3))]) == "-y"
    # Cameras rolled every which way: no guess.
    rolled = [Camera(f"c{i}", np.eye(3), R=_turn_z(a) @ look_x) for i, a in enumerate((0, 120, 240))]
    assert guess_up(rolled) is None


def _turn_z(deg: float) -> np.ndarray:
    a = np.radians(deg)
    return np.array([[np.cos(a), -np.sin(a), 0.0], [np.sin(a), np.cos(a), 0.0], [0.0, 0.0, 1.0]])


def test_written_calibrations_keep_the_qualisys_cameras(tmp_path):
    path = tmp_path / "Calib.qca.txt"
    path.write_text(qca())
    calib = read_calibration(path)
    write_calibration(calib, tmp_path / "c.toml")
    back = read_calibration(tmp_path / "c.toml")
    assert back.up == "z"
    np.testing.assert_allclose(back.cameras[0].centre, calib.cameras[0].centre, atol=1e-9)
    with pytest.raises(LMMError):
        read_calibration(path, units="furlong")

