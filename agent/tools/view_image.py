"""`view_image`: the model looks at an image file in the workspace.

The path is contained and the file opened as `read_file` opens one (resolved inside the
workspace, then by descriptor: no symlink followed, FIFOs and devices refused, a file with other
hard links asks first). Its bytes must be PNG, JPEG, GIF or WebP; it is decoded, downscaled when
over the caps (`agent.images`) and returned as `ToolResult.images`, which the loop sends as an
`input_image` part of the call's output.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import Field

from agent.approvals import ApprovalRequest
from agent.images import SUPPORTED, ImageError, NotAnImage, PreparedImage, read_image
from agent.tools.base import (
    CallDescription,
    Tool,
    ToolArgs,
    ToolContext,
    ToolError,
    ToolResult,
    one_line,
    text_argument,
)
from agent.tools.paths import display_path, resolve_path
from agent.tools.read_file import asking_for_hard_links, withheld_hard_link
from agent.tools.workspace_fs import in_thread_on_copy, open_regular, os_error


class ViewImageArgs(ToolArgs):
    path: str = Field(description=f"Image file path ({SUPPORTED}), relative to the workspace root.")


class ViewImage(Tool[ViewImageArgs]):
    name = "view_image"
    description = (
        f"Look at an image file from the workspace ({SUPPORTED}): a screenshot, a diagram, a rendered "
        "page. The image comes back with the result; large ones are downscaled."
    )
    Args = ViewImageArgs
    parallel_safe = True

    @classmethod
    def describe(cls, arguments: dict[str, Any]) -> CallDescription:
        return CallDescription(one_line(text_argument(arguments, "path") or ""))

    def touched_paths(self, args: ViewImageArgs, ctx: ToolContext) -> tuple[str, ...]:
        return (display_path(ctx, resolve_path(ctx, args.path)),)

    def approval_request(self, call_id: str, args: ViewImageArgs, ctx: ToolContext) -> ApprovalRequest:
        """As every reading call's, except that a file with other hard links always asks."""
        request = super().approval_request(call_id, args, ctx)
        return asking_for_hard_links(request, ctx, resolve_path(ctx, args.path))

    async def run(self, args: ViewImageArgs, ctx: ToolContext) -> ToolResult:
        path = resolve_path(ctx, args.path)
        shown = display_path(ctx, path)
        if path.is_dir():
            raise ToolError(f"'{shown}' is a directory; use list_files to find the image in it.")
        try:
            fd, info = open_regular(ctx.workspace, path, shown)
        except FileNotFoundError:
            raise ToolError(f"'{shown}' does not exist.") from None
        except OSError as exc:
            raise os_error(exc, "read", shown) from None
        try:
            if withheld_hard_link(ctx, info):
                raise ToolError(
                    f"'{shown}' gained other hard links after it was checked; it was not read (ask again to view it)."
                )
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
