"""WCAG contrast of the theme's colours: a brand colour white text cannot be read on is said at build time.

The email sets white button text on `brand_color`, links and labels in
`brand_color` on `content_background`, and text in the text colours, in light
and in dark mode. Each pair under WCAG 2.x AA's 4.5:1 for normal-size text
(success criterion 1.4.3) is a warning of the build; the build goes on.
"""

from __future__ import annotations

from digest.core.settings import Theme

__all__ = ["contrast_ratio", "theme_contrast_warnings", "AA_NORMAL"]

AA_NORMAL = 4.5
BUTTON_TEXT = "#ffffff"  # the button text colour of the built-in templates


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def _luminance(color: str) -> float:
    """Relative luminance of a #rgb or #rrggbb colour (WCAG 2.x)."""
    hex_digits = color.lstrip("#")
    if len(hex_digits) == 3:
        hex_digits = "".join(c * 2 for c in hex_digits)
    r, g, b = (int(hex_digits[i:i + 2], 16) for i in (0, 2, 4))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast_ratio(foreground: str, background: str) -> float:
    """The WCAG contrast ratio of two colours, from 1 (none) to 21 (black on white)."""
    lighter, darker = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def theme_contrast_warnings(theme: Theme) -> list[str]:
    """One line per colour pair of the email under 4.5:1, naming the [theme] keys to change."""
    pairs = [
        ("the button text (white) on brand_color", BUTTON_TEXT, theme.brand_color),
        ("brand_color (links, labels) on content_background", theme.brand_color, theme.content_background),
        ("text_color on content_background", theme.text_color, theme.content_background),
        ("muted_color on content_background", theme.muted_color, theme.content_background),
        ("dark_brand_color on dark_content_background", theme.dark_brand_color, theme.dark_content_background),
        ("dark_text_color on dark_content_background", theme.dark_text_color, theme.dark_content_background),
        ("dark_muted_color on dark_content_background", theme.dark_muted_color, theme.dark_content_background),
    ]
    warnings = []
    for what, foreground, background in pairs:
        ratio = contrast_ratio(foreground, background)
        if ratio < AA_NORMAL:
            warnings.append(f"[theme] {what}: {foreground} on {background} has a contrast of {ratio:.1f}:1, under "
                            f"WCAG AA's {AA_NORMAL}:1; readers may not be able to read it")
    return warnings
