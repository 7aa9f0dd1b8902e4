"""The sign-up page: a valid form sends the welcome mail through the configured backend."""

from __future__ import annotations

from django import forms
from django.core.mail import send_mail
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from example_project.newsletter import WELCOME_SUBJECT, welcome_text


class SignupForm(forms.Form):
    name = forms.CharField(max_length=100)
    email = forms.EmailField()


def signup(request: HttpRequest) -> HttpResponse:
    form = SignupForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        name, email = form.cleaned_data["name"], form.cleaned_data["email"]
        send_mail(WELCOME_SUBJECT, welcome_text(name), None, [email])
        return render(request, "django_site/signup.html", {"welcomed": email})
    return render(request, "django_site/signup.html", {"form": form})
