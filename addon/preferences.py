"""The add-on's preferences (Edit > Preferences > Add-ons > LMM): the model file and the thread count."""
# No "from __future__ import annotations": Blender reads property annotations as live objects.
import bpy
from bpy.props import IntProperty, StringProperty


class LMMPreferences(bpy.types.AddonPreferences):
    # Installed this is "bl_ext.<repo>.lmm"; Blender finds preferences by the add-on's package name.
    bl_idname = __package__

    model_path: StringProperty(
        name="Model File",
        description="Model weights to use; leave empty for the model shipped with the add-on",
        subtype="FILE_PATH",
        default="",
    )
    threads: IntProperty(
        name="Threads",
        description="CPU threads the model may use; 0 uses all cores",
        default=0,
        min=0,
        soft_max=64,
    )

    def draw(self, context):
        layout = self.layout
        layout.prop(self, "model_path")
        layout.prop(self, "threads")


def get(context: bpy.types.Context) -> LMMPreferences:
    """This add-on's preferences."""
    return context.preferences.addons[__package__].preferences


CLASSES = (LMMPreferences,)
