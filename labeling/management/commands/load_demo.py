"""``manage.py load_demo``: demo accounts, three policies, three queues and items to review.

Idempotent: a re-run adds nothing and prints the same logins. Passwords are generated on the
first run and kept in ``VAR_DIR/demo_logins.json`` (mode 600), never written in code.
The ``memes`` queue (spam policy) mixes text-only items with generated meme images, a short
WAV tone and a one-second MP4, attached through ``media_attach`` (validated and hashed like any
upload); the media workers extract their text, and the spam model then trains on them with the
multimodal encoder.
"""

from __future__ import annotations

import io
import json
import math
import os
import secrets
import struct
import wave
from pathlib import Path
from typing import Any

import av
import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from PIL import Image, ImageDraw, ImageFont

from labeling import services
from labeling.importers import DAVIDSON_LABELS, SMS_LABELS, ImportFormat
from labeling.imports import ImportSpec, items_import_file
from labeling.media_services import MediaUpload, media_attach
from labeling.models import DEFAULT_LABELS, Item, Policy, Queue, Roles
from reviewtool.exceptions import ApplicationError

DEMO_USERS = (
    ("reviewer", Roles.REVIEWER),
    ("senior", Roles.SENIOR_REVIEWER),
    ("mlengineer", Roles.ML_ENGINEER),
    ("lead", Roles.LEAD),
    ("admin", Roles.ADMIN),
)
# Of the Davidson rows loaded, this share comes with its votes and label (the model's training
# history); the rest waits in the queue for review.
LABELED_SHARE = 0.4

HATE_GUIDELINES = """\
# Hate speech (Davidson et al. 2017 label set)

Judge the post as written, including quoted or retweeted text (`RT @...`).

1. **hate_speech**: attacks or demeans people *because of* a protected characteristic
   (race, ethnicity, national origin, religion, caste, sexual orientation, sex, gender identity,
   disability, serious disease), including slurs aimed at such a group, dehumanising comparisons
   and calls for exclusion or violence.
2. **offensive_language**: profanity, insults or slurs that are offensive but do **not** target
   a group for who they are (e.g. swearing at a friend, generic insults, lyrics).
3. **neither**: everything else, including posts that *discuss*, report or condemn hate.

When unsure between 1 and 2, ask: *is a group being attacked for who they are?* If yes, choose
`hate_speech`. Reclaimed in-group use of a slur is usually `offensive_language`.
Escalate credible threats against a person.
"""

HARASSMENT_GUIDELINES = """\
# Harassment

Targeted abuse of an identifiable person.

- **violating**: threats, sustained insults or humiliation aimed at a person, doxxing (sharing
  private information), encouraging others to pile on, sexual remarks about a private person.
- **borderline**: a single rude remark, heated argument, criticism of a public figure's
  actions that turns personal.
- **not_violating**: disagreement, criticism of ideas or public conduct, banter between friends.

Consider context: the same words can be a joke between friends or a threat to a stranger.
"""

SPAM_GUIDELINES = """\
# Spam

Unsolicited, bulk or deceptive commercial messages.

- **spam**: prize or lottery claims, premium-rate numbers, "reply STOP" marketing, phishing
  links, requests to call or text a number to claim something.
- **ham**: a legitimate message between people, even if it mentions money or a link.

A message is spam by its *intent*, not its words: "call me when you land" is ham.
"""

POLICIES: tuple[dict[str, Any], ...] = (
    {
        "slug": "hate_speech",
        "name": "Hate speech",
        "labels": list(DAVIDSON_LABELS),
        "positive_labels": ["hate_speech"],
        "guidelines": HATE_GUIDELINES,
        "severity": 4,
    },
    {
        "slug": "harassment",
        "name": "Harassment",
        "labels": list(DEFAULT_LABELS),
        "positive_labels": ["violating"],
        "guidelines": HARASSMENT_GUIDELINES,
        "severity": 3,
    },
    {
        "slug": "spam",
        "name": "Spam",
        "labels": list(SMS_LABELS),
        "positive_labels": ["spam"],
        "guidelines": SPAM_GUIDELINES,
        "severity": 1,
    },
)

# Harmless sample posts, some carrying markup and script to show that review pages escape them.
SAMPLE_POSTS = (
    "Just finished a 10k run, legs are jelly but worth it",
    "Does anyone know a good recipe for lentil soup?",
    "The bus was late again this morning. Third time this week.",
    "Congrats to the team on the release, great work everyone!",
    "Can't believe how good the new season of that baking show is",
    "Reminder: the library closes early on Friday",
    "My cat knocked my coffee off the desk. Again.",
    "Who else is watching the match tonight?",
    "Selling a used bike, barely ridden, message me",
    "That referee needs glasses, what a terrible call",
    "You are the worst player on this team, honestly just quit",
    "Lovely sunset at the beach today",
    "Why does my code only work when I'm not looking at it",
    "Ugh, this traffic is ridiculous",
    "Thanks for the birthday wishes everyone!",
    "<script>alert('xss')</script> hello reviewers",
    '<img src=x onerror="alert(1)"> nice picture right?',
    "[free stuff](javascript:alert(document.cookie))",
    "**bold claim** and _emphasis_ that should stay plain text",
    "&lt;b&gt;already escaped&lt;/b&gt; &amp; friends",
    '"><svg onload=alert(1)> quote breaker',
    "{{ 7*7 }} and {% debug %} template injection attempt",
)
SAMPLE_TOPICS = ("weather", "football", "the new phone", "my neighbour", "the election", "pizza")
SAMPLE_OPINIONS = (
    "is overrated",
    "made my day",
    "is so annoying",
    "deserves better",
    "is all anyone talks about",
    "needs a rethink",
)

SAMPLE_MESSAGES = (
    ("spam", "WINNER! You have won a 1000 GBP prize. Call 09061234567 now to claim."),
    ("spam", "Free entry to our weekly draw! Text WIN to 80080. T&Cs apply."),
    ("spam", "URGENT: your account is locked, verify at http://example.invalid/login"),
    ("spam", "Congratulations, you were selected for a free cruise. Reply YES."),
    ("spam", "Cheap loans approved in minutes, no credit check. Txt LOAN to 85555"),
    ("ham", "Running 10 minutes late, save me a seat"),
    ("ham", "Can you pick up milk on the way home?"),
    ("ham", "Happy birthday! Dinner on Saturday?"),
    ("ham", "Call me when you land"),
    ("ham", "The meeting moved to 3pm, same room"),
)


class Command(BaseCommand):
    help = (
        "Load demo accounts (one per role), policies, queues and items. Safe to run again. "
        "Uses the Davidson and SMS datasets from REVIEWTOOL_DATASETS where present, else "
        "generated samples."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--davidson-rows",
            type=int,
            default=5000,
            help="Davidson tweets to load (default 5000): the first 40%% with their votes and "
            "labels, the rest pending review",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["davidson_rows"] < 0:
            raise CommandError("--davidson-rows must be 0 or more.")
        passwords, new_passwords = _demo_passwords(Path(settings.VAR_DIR) / "demo_logins.json")
        try:
            with transaction.atomic():
                users = _demo_users(passwords, new_passwords)
                policies = {spec["slug"]: _policy(spec) for spec in POLICIES}
                queues = _demo_queues(policies, users)
            self._load_tweets(queues["tweets"], rows=options["davidson_rows"])
            self._load_messages(queues["spam-check"])
            _load_memes(queues["memes"])
        except ApplicationError as error:
            raise CommandError(error.message) from error
        for queue in queues.values():
            self.stdout.write(f"Queue {queue.slug}: {queue.items.count()} items")
        self.stdout.write(_login_table(passwords))

    def _load_tweets(self, queue: Queue, *, rows: int) -> None:
        path = Path(settings.REVIEWTOOL_DATASETS) / "davidson2017" / "labeled_data.csv"
        if not path.is_file():
            _ingest_samples(queue, _sample_posts(), source="demo")
            return
        labeled = int(rows * LABELED_SHARE)
        for offset, limit, with_labels in ((0, labeled, True), (labeled, rows - labeled, False)):
            if limit > 0:
                items_import_file(
                    spec=ImportSpec(
                        path=path,
                        fmt=ImportFormat.DAVIDSON,
                        queue_slug=queue.slug,
                        policy_slug="hate_speech",
                        source="davidson",
                        with_labels=with_labels,
                        offset=offset,
                        limit=limit,
                    )
                )

    def _load_messages(self, queue: Queue) -> None:
        path = Path(settings.REVIEWTOOL_DATASETS) / "sms_spam_collection" / "SMSSpamCollection.tsv"
        if not path.is_file():
            texts = [
                f"{greeting}{text}"
                for greeting in ("", "Hi! ", "Hey, ")
                for _, text in SAMPLE_MESSAGES
            ]
            _ingest_samples(queue, texts, source="demo-sms")
            return
        items_import_file(
            spec=ImportSpec(
                path=path,
                fmt=ImportFormat.SMS,
                queue_slug=queue.slug,
                policy_slug="spam",
                source="sms",
                with_labels=False,
                limit=30,
            )
        )


def _demo_passwords(path: Path) -> tuple[dict[str, str], set[str]]:
    """The stored demo passwords, with new random ones for any account that has none yet
    (returned as the second value: those accounts get their password set)."""
    stored: dict[str, str] = {}
    if path.is_file():
        try:
            stored = {str(k): str(v) for k, v in json.loads(path.read_text("utf-8")).items()}
        except (ValueError, AttributeError) as error:
            raise CommandError(f"{path} is not a JSON object; remove it to start over.") from error
    missing = [username for username, _ in DEMO_USERS if username not in stored]
    for username in missing:
        stored[username] = secrets.token_urlsafe(12)
    if missing or not path.is_file():
        temporary = path.with_suffix(".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(stored, handle, indent=2)
        os.replace(temporary, path)
    path.chmod(0o600)
    return stored, set(missing)


def _demo_users(passwords: dict[str, str], new_passwords: set[str]) -> dict[str, Any]:
    user_model = get_user_model()
    users = {}
    for username, role in DEMO_USERS:
        user, created = user_model.objects.get_or_create(username=username)
        if created or username in new_passwords:
            user.set_password(passwords[username])
        if role == Roles.ADMIN:
            user.is_staff = user.is_superuser = True
        user.save()
        group, _ = Group.objects.get_or_create(name=role)
        user.groups.add(group)
        users[username] = user
    return users


def _policy(spec: dict[str, Any]) -> Policy:
    existing = Policy.objects.filter(slug=spec["slug"]).first()
    return existing if existing is not None else services.policy_create(**spec)


def _demo_queues(policies: dict[str, Policy], users: dict[str, Any]) -> dict[str, Queue]:
    reviewers = [users["reviewer"], users["senior"]]
    tweets = Queue.objects.filter(slug="tweets").first() or services.queue_create(
        slug="tweets", name="Tweets", policies=[policies["hate_speech"]], reviewers=reviewers
    )
    # Two independent decisions per message, blind to the model's suggestion.
    spam_check = Queue.objects.filter(slug="spam-check").first() or services.queue_create(
        slug="spam-check",
        name="Spam check",
        policies=[policies["spam"]],
        overlap=2,
        blind=True,
        reviewers=reviewers,
    )
    memes = Queue.objects.filter(slug="memes").first() or services.queue_create(
        slug="memes", name="Memes", policies=[policies["spam"]], reviewers=reviewers
    )
    return {"tweets": tweets, "spam-check": spam_check, "memes": memes}


# (external id, item text, attached media: "image:<caption>", "audio" or "video", or None).
MEME_ITEMS: tuple[tuple[str, str, str | None], ...] = (
    ("meme-1", "", "image:WIN A FREE PHONE! TEXT WIN TO 80080"),
    ("meme-2", "look at this", "image:CLAIM YOUR PRIZE NOW"),
    ("meme-3", "", "image:CHEAP LOANS NO CREDIT CHECK"),
    ("meme-4", "lol mondays", "image:WHEN THE COFFEE KICKS IN"),
    ("meme-5", "", "image:ME WAITING FOR THE BUS"),
    ("meme-6", "so true", "image:CATS RULE THE HOUSE"),
    ("meme-7", "voice note", "audio"),
    ("meme-8", "clip from the party", "video"),
    ("meme-9", "Free entry to our weekly draw! Text WIN to 80080.", None),
    ("meme-10", "URGENT: verify your account at http://example.invalid", None),
    ("meme-11", "Dinner on Saturday? Bring the photos", None),
    ("meme-12", "<img src=x onerror=alert(1)> meme caption", None),
)


def _load_memes(queue: Queue) -> None:
    """Ingest the meme items; media go only on newly created items (so a re-run adds none)."""
    created = services.items_ingest(
        queue=queue,
        items=[
            services.ItemInput(external_id=external_id, text=text)
            for external_id, text, _ in MEME_ITEMS
        ],
        source="demo-memes",
    ).created
    media = {external_id: spec for external_id, _, spec in MEME_ITEMS}
    for item in created:
        spec = media.get(item.external_id)
        if spec is not None:
            _attach(item, spec)


def _attach(item: Item, spec: str) -> None:
    if spec.startswith("image:"):
        name, data = "meme.png", _meme_png(spec.removeprefix("image:"))
    elif spec == "audio":
        name, data = "voice.wav", _tone_wav()
    else:
        name, data = "clip.mp4", _clip_mp4()
    media_attach(item=item, uploads=[MediaUpload(name=name, stream=io.BytesIO(data))])


def _meme_png(caption: str) -> bytes:
    """A 480x270 meme: dark caption on a light background, Pillow's default font."""
    image = Image.new("RGB", (480, 270), (250, 245, 225))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=30)
    words, lines, line = caption.split(), [], ""
    for word in words:
        if line and draw.textlength(f"{line} {word}", font=font) > 440:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    for number, text in enumerate(lines):
        draw.text((20, 40 + 45 * number), text, fill=(20, 20, 20), font=font)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _tone_wav(seconds: float = 1.0, rate: int = 8000) -> bytes:
    """A one-second 440 Hz tone (mono, 16-bit)."""
    samples = (
        int(8000 * math.sin(2 * math.pi * 440 * index / rate))
        for index in range(int(seconds * rate))
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"".join(struct.pack("<h", sample) for sample in samples))
    return buffer.getvalue()


def _clip_mp4(frames: int = 10) -> bytes:
    """One second of a 64x64 colour sweep, H.264 (no sound)."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream: Any = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for index in range(frames):
            colour = (25 * index, 120, 255 - 25 * index)
            pixels = np.full((64, 64, 3), colour, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def _sample_posts() -> list[str]:
    generated = [
        f"Honestly {topic} {opinion} (post {number})"
        for number, (topic, opinion) in enumerate(
            ((t, o) for t in SAMPLE_TOPICS for o in SAMPLE_OPINIONS), start=1
        )
    ]
    return [*SAMPLE_POSTS, *generated]


def _ingest_samples(queue: Queue, texts: list[str], *, source: str) -> None:
    services.items_ingest(
        queue=queue,
        items=[
            services.ItemInput(external_id=f"{source}-{number}", text=text)
            for number, text in enumerate(texts, start=1)
        ],
        source=source,
    )


def _login_table(passwords: dict[str, str]) -> str:
    rows = [("username", "role", "password")]
    rows += [(username, str(role), passwords[username]) for username, role in DEMO_USERS]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    lines = ["", "Demo logins (also in VAR_DIR/demo_logins.json):"]
    for index, row in enumerate(rows):
        lines.append(
            "  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip()
        )
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)
