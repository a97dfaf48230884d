"""`view_image`: the model looks at an image file in the workspace.

The path is contained and the file opened as `read_file` opens one (resolved inside the
workspace, then by descriptor: no symlink followed, FIFOs and devices refused, a file with other
hard links asks first). Its bytes must be PNG, JPEG, GIF or WebP; it is decoded, downscaled when
over the caps (`agent.images`) and returned as `ToolResult.images`, which the loop sends as an
`input_image` part of the call's output.
"""

from __future__ import annotations

import os

from pydantic import Field

from agent.images import SUPPORTED, ImageError, NotAnImage, PreparedImage, read_image
from agent.tools.base import ToolContext, ToolError, ToolResult
from agent.tools.read_file import OneFileReader, PathArgs
from agent.tools.workspace_fs import in_thread_on_copy, os_error


class ViewImageArgs(PathArgs):
    path: str = Field(description=f"Image file path ({SUPPORTED}), relative to the workspace root.")


class ViewImage(OneFileReader[ViewImageArgs]):
    name = "view_image"
    description = (
        f"Look at an image file from the workspace ({SUPPORTED}): a screenshot, a diagram, a rendered "
        "page. The image comes back with the result; large ones are downscaled."
    )
    Args = ViewImageArgs
    verb = "view"
    in_a_directory = "use list_files to find the image in it"

    async def run(self, args: ViewImageArgs, ctx: ToolContext) -> ToolResult:
        _, shown, fd, info = self.open_checked(args, ctx)
        try:
            image = await in_thread_on_copy(fd, _read, info.st_size, shown)
        finally:
            os.close(fd)
        return ToolResult(
            output=f"'{shown}': {image.describe()}, attached.",
            images=(image.data_url,),
            display={"path": shown, "width": image.width, "height": image.height},
        )


def _read(fd: int, size: int, shown: str) -> PreparedImage:
    """The image in `fd`."""
    try:
        return read_image(fd, size)
    except NotAnImage:
        raise ToolError(
            f"'{shown}' is not an image view_image can show ({SUPPORTED}); use read_file for a text file."
        ) from None
    except ImageError as exc:
        raise ToolError(f"'{shown}' cannot be viewed: {exc}.") from None
    except OSError as exc:
        raise os_error(exc, "read", shown) from None
